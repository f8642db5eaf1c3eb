export { edgeKey, EDGE_PROXIES, type EdgeProxy } from './keys.js';
export { renderEdge, renderHaproxy, renderNginx, unroutable, type EdgeConfigOptions } from './render.js';
export { haproxyReloader, nginxReloader, type NginxReload } from './reload.js';
export { EdgeWriter, type EdgeWriterOptions } from './watch.js';
