import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import { Identifier, Single, StringEnum, Timestamp } from '../../http/common-schemas.js';
import { RecipientObject } from '../../cloudflare/recipients/schemas.js';

/** A body that may be left out (or sent empty): `null` to the handler, `{}` in meaning. */
const OptionalBody = <T extends TProperties>(properties: T) =>
  Type.Unsafe<Static<TObject<T>> | null>(Type.Object(properties, { nullable: true }));

export const MAX_STEPS_LIMIT = 1_000_000;
export const DEFAULT_WAIT_MS = 10_000;
export const MAX_WAIT_MS = 600_000;

export const ReconcileBody = OptionalBody({
  share_id: Type.Optional(Identifier('Only this share and its recipients (default: all queued work).')),
  max_steps: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_STEPS_LIMIT,
      description: 'At most this many work items processed, retries included (default 100000).',
    }),
  ),
});
export type ReconcileBody = Static<typeof ReconcileBody>;

export const ReconcileResult = Type.Object({
  processed: Type.Integer({ description: 'Work items processed, retries included.' }),
  pending: Type.Integer({
    description:
      "Work items still queued (only the share's, with share_id): leased elsewhere, or left to their backoff after failing repeatedly.",
  }),
});
export type ReconcileResult = Static<typeof ReconcileResult>;

export const WaitBody = Type.Object({
  share_id: Identifier('The share to wait for.'),
  timeout_ms: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: MAX_WAIT_MS,
      description: `How long to wait, in real milliseconds (default ${DEFAULT_WAIT_MS}).`,
    }),
  ),
});
export type WaitBody = Static<typeof WaitBody>;

export const WaitResult = Type.Object({
  share_id: Identifier('Share identifier.'),
  status: StringEnum(['active', 'deleting', 'deleted'] as const),
  recipients: Type.Array(RecipientObject, {
    description: 'Every recipient of the share, with its resources (error and terminal included).',
  }),
});
export type WaitResult = Static<typeof WaitResult>;

export const ClockBody = Type.Object({
  freeze: Type.Optional(
    Type.Boolean({ description: 'true: time stands still until advanced; false: time flows again.' }),
  ),
  advance_ms: Type.Optional(
    Type.Integer({ minimum: 0, description: 'Moves the clock forward by this many milliseconds.' }),
  ),
  set: Type.Optional(Timestamp('Moves the clock to this instant (RFC 3339).')),
});
export type ClockBody = Static<typeof ClockBody>;

export const ClockState = Type.Object({
  now: Timestamp("The clock's current time."),
  frozen: Type.Boolean(),
  offset_ms: Type.Number({ description: "How far the clock is from the machine's time, in milliseconds." }),
});
export type ClockState = Static<typeof ClockState>;

export const ReconcileResponse = Single(ReconcileResult);
export const WaitResponse = Single(WaitResult);
export const ClockResponse = Single(ClockState);
