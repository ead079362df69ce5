// The foundation suites again, on the embedded PGlite database (the demo's default).
process.env.TEST_DB = 'pglite';
await import('../system/health.test.js');
await import('../auth/login.test.js');
await import('../auth/token-matrix.test.js');
