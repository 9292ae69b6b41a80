import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

type Factory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>['buildSerializer'];
type Serializer = (data: unknown) => string;

/**
 * Fastify's own serializer compiler (fast-json-stringify), run on first use and once per schema object:
 * building every response serializer of every route at start was the other half of a cold start, and
 * the routes under `/client/v4` and at the root share their schemas.
 */
export const lazySerializers: Factory = (externalSchemas, options) => {
  const compile = SerializerSelector()(externalSchemas, options);
  const built = new WeakMap<object, Serializer>();
  return (route) => {
    let fn: Serializer | undefined;
    return (data: unknown) => {
      if (!fn) {
        const key = route.schema as object;
        fn = built.get(key) ?? (compile(route) as Serializer);
        built.set(key, fn);
      }
      return fn(data);
    };
  };
};
