export { startRouterSimulator, type RouterSimulator, type SimulatorOptions, type RecordedCommand, type Misbehaviour } from './server.js';
export { SimState, SimTrap, Table, type Row } from './state.js';
export { simulatorCertificate, fixtureCertificate, type SimCertificate } from './cert.js';
export { runScript, parseScript } from './script.js';
