/**
 * The service as a child process (real port, real workers) for crash tests and the drill. With
 * PAYMENTS_TEST_KILL_AFTER_CHARGE=1 the process SIGKILLs itself right after a charge is recorded: no
 * graceful anything, exactly like a crash between "money taken" and "voucher delivered".
 */
import { configOrExit, startService } from '../../src/server.js';

const service = await startService(configOrExit());
if (process.env.PAYMENTS_TEST_KILL_AFTER_CHARGE === '1') {
  service.ctx.payments.hooks.afterChargeRecorded = ({ outcome }) => {
    if (outcome === 'approved') process.kill(process.pid, 'SIGKILL');
  };
}
process.once('SIGTERM', () => {
  void service.stop().then(() => process.exit(0));
});
process.stdout.write(`READY ${service.url}\n`);
