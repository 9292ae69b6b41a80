import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { ExcludedRecipientsService } from '../cloudflare/excluded-recipients/service.js';
import type { RecipientsService } from '../cloudflare/recipients/service.js';
import type { ResourcesService } from '../cloudflare/resources/service.js';
import type { SharesService } from '../cloudflare/shares/service.js';
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
