import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { ExcludedRecipientsService } from '../excluded-recipients/service.js';
import type { RecipientsService } from '../recipients/service.js';
import type { ResourcesService } from '../resources/service.js';
import type { SharesService } from '../shares/service.js';
import type { Authenticator } from './auth.js';

/** The Fastify instance with TypeBox typing, as route modules receive it. */
export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface Services {
  shares: SharesService;
  recipients: RecipientsService;
  resources: ResourcesService;
  excludedRecipients: ExcludedRecipientsService;
  authenticator: Authenticator;
}
