export { tcpProbe } from './tcp.js';
export { BodyConsumedError, bodyHeaders, forwardBody, formEncode, hasBody, type ForwardBody, type ParsedRequest } from './body.js';
export { proxyUpgrade, writeUpgradeAnswer, type UpgradeResult } from './upgrade.js';
export { forwardUpgrade, routeUpgrade, type UpgradeLogger, type UpgradeOptions } from './route-upgrade.js';
export { Forwarder } from './forwarder.js';
export { sendAnswer } from './answer.js';
