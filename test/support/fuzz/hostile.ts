/**
 * Pools of hostile values for the fuzzer (test/fuzz.test.ts). Every pool holds only values that make the
 * place they are put invalid: the fuzzer asserts that each request it builds is refused.
 */

/** Ids for path parameters: SQL, LIKE and path metacharacters, encodings, unicode, over-long ids. */
export const HOSTILE_IDS: readonly string[] = [
  "'",
  "' OR '1'='1",
  "' OR 1=1;--",
  '1;--',
  "'; DROP TABLE shares;--",
  '" OR ""="',
  '1 UNION SELECT *',
  '%',
  '_',
  '%_%',
  '*',
  '..',
  '.',
  '../x',
  '..\\..',
  '/',
  '\\',
  '\u0000',
  '%00',
  '%2F',
  '%2e%2e',
  '\n',
  ' ',
  '?',
  '#',
  '&',
  '~',
  '$where',
  '{"$gt":""}',
  'null',
  'undefined',
  '0',
  '-1',
  '__proto__',
  'constructor',
  'é',
  '😀',
  '\u202e',
  '\u200b',
  'ｂ０００',
  'Ｂ',
  'ß',
  'İ',
  'a'.repeat(33),
  'f'.repeat(100),
  'f'.repeat(101),
  'f'.repeat(5000),
];

/** Values a query parameter of each kind refuses. */
export const BAD_INTEGERS: readonly string[] = [
  '',
  'abc',
  '0',
  '-1',
  '1.5',
  '1000000001',
  '99999999999999999999999',
  'NaN',
  'Infinity',
  '-Infinity',
  "1'",
  '1;--',
  '1 OR 1=1',
  'null',
  'true',
  '[1]',
  '\u0000',
  '１',
  '١',
  '1e',
  '--1',
];
export const BAD_PER_PAGE: readonly string[] = [...BAD_INTEGERS, '101', '1000', '100.5'];
export const BAD_BOOLEANS: readonly string[] = [
  '',
  'yes',
  'no',
  '1',
  '0',
  'TRUE',
  'True',
  'FALSE',
  'null',
  'truee',
  "true'--",
  'on',
  '\u0000',
  'ｔｒｕｅ',
];
/** Anything outside an enum: near misses, case, metacharacters, unicode look-alikes. */
export const BAD_ENUM_VALUES: readonly string[] = [
  '',
  'ACTIVE',
  'Active',
  'active ',
  ' sent',
  "active'--",
  "'; DROP TABLE shares;--",
  '*',
  '%',
  '_',
  'null',
  '../',
  'actіve',
  '\u0000',
  'custom_ruleset',
  'CUSTOM-RULESET',
  'custom-ruleset\u200b',
  'name;--',
  'asc,desc',
  '1',
];
/** `tag` filters the list refuses: empty, over-long, no key. */
export const BAD_TAGS: readonly string[] = ['', '=', '=value', '==', 'k'.repeat(1282), '\u0000'];

/** Undecodable query text, appended raw (never re-encoded). */
export const RAW_QUERY_JUNK: readonly string[] = ['%', '%zz', '%FF', '%C0%80', '%ED%A0%80', '%E2%82'];

/** Values of every JSON type; a mutation picks one whose type the schema does not allow. */
export const WRONG_TYPE_VALUES: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  '',
  'x',
  "' OR 1=1--",
  [],
  ['x'],
  [null],
  {},
  { a: 'b' },
];

/** Non-blank-looking strings that are all whitespace (the `\S` pattern refuses them, with the u flag). */
export const BLANKS: readonly string[] = [' ', '   ', '\t', '\n\r', '\u00a0', '\u3000', '\u2028', '\ufeff'];

/** Characters over-long strings are made of: one UTF-16 unit, two, and a surrogate pair. */
export const LONG_UNITS: readonly string[] = ['x', 'é', '€', '😀'];

/** Object keys that are not fields of any request body: ignored by validation, never a way in. */
export const EXTRA_KEYS: readonly string[] = [
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  '$where',
  '$gt',
  "' OR 1=1--",
  '../../etc/passwd',
  'id',
  'status',
  'created',
  'modified',
  'kind',
  'success',
  'result',
  'errors',
  'share_id',
  'target_type',
  'resource_version',
  'é',
  '😀',
  '',
];

/** Byte sequences that are not UTF-8: a stray continuation, 0xFF, an overlong NUL, a surrogate, a cut sequence. */
export const INVALID_UTF8: readonly (readonly number[])[] = [
  [0xff],
  [0xfe, 0xff],
  [0x80],
  [0xc0, 0x80],
  [0xc1, 0xbf],
  [0xed, 0xa0, 0x80],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
  [0xf5, 0x80, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
];

/**
 * Texts that are not JSON, whatever is around them: each one is a whole body, or is appended to one, or
 * replaces its start. None is empty or whitespace (an empty body is "no body" on bodiless routes).
 */
export const NOT_JSON: readonly string[] = [
  '{',
  '}',
  '[',
  '{"a":}',
  '{"a" 1}',
  '{a:1}',
  "{'name':'x'}",
  '{"name":"x",}',
  '[1,]',
  '{"a":01}',
  '{"a":1e}',
  '{"a":.5}',
  '{"a":NaN}',
  '{"a":Infinity}',
  '{"a":undefined}',
  '{"a":"\\x41"}',
  '{"a":"\\u12"}',
  '{"a":"\u0001"}',
  '{"a":"line\nbreak"}',
  '{"a":1}}',
  '{"a":1}{"b":2}',
  '{"a":1} x',
  '// comment\n{}',
  '/* c */{}',
  ")]}',\n{}",
  'NaN',
  'undefined',
  'True',
  "'x'",
  '\u0000',
  '{"a":1,"a"}',
];

/** Content types that are not JSON (and one that is, with a charset the bytes do not follow). */
export const WRONG_CONTENT_TYPES: readonly (string | undefined)[] = [
  undefined,
  '',
  'text/plain',
  'text/plain; charset=utf-8',
  'text/json',
  'text/html',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=fuzz',
  'application/xml',
  'application/octet-stream',
  'application/javascript',
  'application/jsonp',
  'application/json-patch+json',
  'application/ld+json',
  'application/problem+json',
  'json',
  '*/*',
  'application/*',
  'application/json, text/plain',
  'application',
  ';',
];

/** What the body's bytes are in when the content type claims UTF-16 (the server reads UTF-8 only). */
export const UTF16_CONTENT_TYPES: readonly string[] = [
  'application/json; charset=utf-16',
  'application/json; charset=utf-16le',
];
