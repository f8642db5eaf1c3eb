export { tcpProbe } from './tcp.js';
export { BodyConsumedError, bodyHeaders, forwardBody, formEncode, hasBody, type ForwardBody, type ParsedRequest } from './body.js';
export { proxyUpgrade, writeUpgradeAnswer, type UpgradeResult } from './upgrade.js';
export { forwardUpgrade, routeUpgrade, type UpgradeOptions } from './route-upgrade.js';
export { Forwarder, type ForwardLogger } from './forwarder.js';
export { sendAnswer } from './answer.js';
