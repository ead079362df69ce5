/**
 * The service as a child process (real port, real workers) for crash tests and the drill. With
 * PAYMENTS_TEST_KILL_AFTER_CHARGE=1 the process SIGKILLs itself right after a charge is recorded: no
 * graceful anything, exactly like a crash between "money taken" and "voucher delivered". With
 * PAYMENTS_TEST_KILL_MID_TOPUP=1 it dies after a top-up's limits reached the router, before that is recorded.
 */
import { configOrExit, startService } from '../../src/server.js';

const service = await startService(configOrExit());
if (process.env.PAYMENTS_TEST_KILL_AFTER_CHARGE === '1') {
  service.ctx.payments.hooks.afterChargeRecorded = ({ outcome }) => {
    if (outcome === 'approved') process.kill(process.pid, 'SIGKILL');
  };
}
// Killed mid-delivery of a top-up: its limits are on the router, the delivery is not recorded yet.
if (process.env.PAYMENTS_TEST_KILL_MID_TOPUP === '1') {
  service.ctx.payments.hooks.afterRouterWrite = ({ recarga }) => {
    if (recarga) process.kill(process.pid, 'SIGKILL');
  };
}
process.once('SIGTERM', () => {
  void service.stop().then(() => process.exit(0));
});
process.stdout.write(`READY ${service.url}\n`);
