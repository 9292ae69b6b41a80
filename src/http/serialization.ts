import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

type Factory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>['buildSerializer'];
type Serializer = (data: unknown) => string;

/**
 * Fastify's own serializer compiler (fast-json-stringify), run on first use and once per schema object:
 * building every response serializer of every route at start was the other half of a cold start; the
 * routes under `/client/v4` and at the root, and every app in the process, share their schemas. No
 * app registers shared schemas (`addSchema`), so a schema object alone decides its serializer.
 */
/** Serializers by response schema object, shared by every app of the process (schemas are constants). */
const built = new WeakMap<object, Serializer>();

export const lazySerializers: Factory = (externalSchemas, options) => {
  const compile = SerializerSelector()(externalSchemas, options);
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
