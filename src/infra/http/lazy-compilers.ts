/**
 * Fastify's own schema compilers (Ajv for validation, fast-json-stringify for responses, as Fastify builds
 * them by default), but each route's function is compiled on its first use instead of at start-up: an
 * instance compiled about two hundred validators and serializers before answering /ready, most of them for
 * admin routes an instance may never serve (start-up time and idle memory, bench/results.md). Same compiler,
 * same options, same functions once compiled; a schema error surfaces on the route's first request (and
 * in every test that drives the route) instead of at boot.
 */
import AjvCompiler from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';

type Compiled = ((...args: unknown[]) => unknown) & { errors?: unknown };
type RouteCompiler = (route: unknown) => Compiled;
type Factory = (externalSchemas: unknown, options: unknown) => RouteCompiler;

/** A function that compiles itself on the first call; Ajv's `errors` (read by Fastify after a call) is carried over. */
function compiledOnFirstUse(compile: () => Compiled): Compiled {
  let fn: Compiled | null = null;
  const lazy: Compiled = function (this: unknown, ...args: unknown[]) {
    fn ??= compile();
    const result = fn.apply(this, args);
    lazy.errors = fn.errors;
    return result;
  };
  return lazy;
}

const lazily =
  (factory: Factory): Factory =>
  (externalSchemas, options) => {
    const compiler = factory(externalSchemas, options);
    return (route) => compiledOnFirstUse(() => compiler(route));
  };

export function lazyCompilersFactory() {
  return {
    buildValidator: lazily((AjvCompiler as unknown as () => Factory)()),
    buildSerializer: lazily((SerializerSelector as unknown as () => Factory)()),
  };
}
