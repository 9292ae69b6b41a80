import type { ResultInfo } from './common-schemas.js';

export interface Page {
  page: number;
  perPage: number;
  limit: number;
  offset: number;
}

/**
 * Omitting both `page` and `per_page` gives the first page of 20: a "non-paginated" answer would make
 * the SDK's auto-pagination (which asks for page+1 without per_page) repeat items. See docs/api.md, "Pagination".
 */
export function pageOf(query: { page?: number; per_page?: number }): Page {
  const page = query.page ?? 1;
  const perPage = query.per_page ?? 20;
  return { page, perPage, limit: perPage, offset: (page - 1) * perPage };
}

export function ok<T>(result: T) {
  return { success: true as const, errors: [], messages: [], result };
}

export function okPage<T>(items: T[], page: Page, total: number) {
  const result_info: ResultInfo = {
    page: page.page,
    per_page: page.perPage,
    count: items.length,
    total_count: total,
    total_pages: Math.ceil(total / page.perPage),
  };
  return { success: true as const, errors: [], messages: [], result: items, result_info };
}
