/** The documentation's example declared type: a dashboard whose meta names its region, and nothing else. */
export const ACME_DASHBOARD = {
  description: 'A dashboard, shown read-only in the recipient account',
  meta_schema: {
    type: 'object',
    required: ['region'],
    additionalProperties: false,
    properties: { region: { enum: ['eu', 'us'] } },
  },
};
