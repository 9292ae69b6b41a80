import { Type, type Static } from '@sinclair/typebox';
import { ID_PATTERN } from '../../lib/ids.js';

/** `POST /_rshare/reset`: no body empties everything; an organization id empties only its shares. */
export const ResetBody = Type.Unsafe<{ organization_id?: string } | null>(
  Type.Object(
    {
      organization_id: Type.Optional(
        Type.String({ pattern: ID_PATTERN, description: 'Only this organization’s shares are removed.' }),
      ),
    },
    { additionalProperties: false, nullable: true },
  ),
);
export type ResetBody = Static<typeof ResetBody>;

export const ResetResult = Type.Object({
  /** `store` when everything was emptied, `organization` when one organization's shares were. */
  scope: Type.Union([Type.Literal('store'), Type.Literal('organization')]),
  organization_id: Type.Optional(Type.String()),
  /** Shares removed by an organization reset. */
  shares_removed: Type.Optional(Type.Integer()),
});
export type ResetResult = Static<typeof ResetResult>;
