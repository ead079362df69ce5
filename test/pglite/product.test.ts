// Admin and catalog suites on the embedded PGlite database (the demo's default); tests that need a
// second instance on a shared database skip themselves there.
process.env.TEST_DB = 'pglite';
await import('../tenants/routers.test.js');
await import('../catalog/products.test.js');
await import('../catalog/public.test.js');
await import('../company/gateways.test.js');
await import('../hotspot/admin-routes.test.js');
