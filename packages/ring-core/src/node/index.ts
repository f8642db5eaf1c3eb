export { tcpProbe } from './tcp.js';
