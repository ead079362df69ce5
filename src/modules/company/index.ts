/** The company admin's self-service API: company, routers, transactions, gateway credentials and logo. */
import type { App } from '../../infra/http/types.js';
import companyRoutes from './routes.js';
import gatewayRoutes from './gateways.js';
import logoRoutes from './logos.js';
import panelRoutes from './panel-routes.js';

export default async function companyModule(app: App) {
  await app.register(companyRoutes);
  await app.register(gatewayRoutes);
  await app.register(panelRoutes);
  // Its own child context: multipart parsing exists only there.
  await app.register(logoRoutes);
}
