/**
 * Cloudflare's resource types: the official SDK's `ResourceType` (cloudflare 7.3.0), so a built-in type is
 * added here and nowhere else. A server's own list is its registry (`src/platform/resource-types/registry.ts`):
 * these, unless its resource-types file turns them off, and the types the file declares. No imports: the
 * console's browser bundle includes this module as it is (its pickers' list until the server's arrives).
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
