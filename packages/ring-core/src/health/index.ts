export { HealthChecker, type HealthCheckOptions, type Probe, type ProbeVerdict } from './checker.js';
export { httpProbe } from './http.js';
