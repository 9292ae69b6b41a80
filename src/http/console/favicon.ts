/**
 * The console's icon: two linked nodes (a share), small enough to keep in code rather than build. Served
 * at `/console/favicon.svg` (linked from the page) and `/favicon.ico` (asked for by browsers that ignore
 * the link), so a console page load has no failed request.
 */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect width="32" height="32" rx="6" fill="#f6821f"/>
<path d="M10 16h12" stroke="#fff" stroke-width="3"/>
<circle cx="9" cy="16" r="5" fill="#fff"/>
<circle cx="23" cy="16" r="5" fill="#fff"/>
</svg>
`;
