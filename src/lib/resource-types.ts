/**
 * The resource types a share can hold: the official SDK's `ResourceType` (cloudflare 7.3.0). The one
 * list request validation, the OpenAPI document, drivers configuration, account entitlements and the
 * web console all read, so a type is added here and nowhere else. No imports: the console's browser
 * bundle includes this module as it is.
 */
export const RESOURCE_TYPES = [
  'custom-ruleset',
  'gateway-policy',
  'gateway-destination-ip',
  'gateway-block-page-settings',
  'gateway-extended-email-matching',
  'idp-federation-grant',
  'trust-grant',
] as const;

export type ResourceTypeName = (typeof RESOURCE_TYPES)[number];

export function isResourceType(value: string): value is ResourceTypeName {
  return (RESOURCE_TYPES as readonly string[]).includes(value);
}
