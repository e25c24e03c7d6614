/**
 * The cookie date parser of RFC 6265bis §5.1.1: the lenient algorithm browsers use for
 * `Expires`, not the strict HTTP-date grammar (servers send many variants: two-digit years,
 * dashes, missing weekdays, `GMT` or not).
 *
 * @module
 */

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/** delimiter = %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E */
function isDelimiter(code: number): boolean {
  return code === 0x09 || (code >= 0x20 && code <= 0x2f) || (code >= 0x3b && code <= 0x40) ||
    (code >= 0x5b && code <= 0x60) || (code >= 0x7b && code <= 0x7e);
}

/** The date-tokens of `text`: runs of non-delimiters. */
function dateTokens(text: string): string[] {
  const tokens: string[] = [];
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    const delimiter = i === text.length || isDelimiter(text.charCodeAt(i));
    if (!delimiter && start < 0) start = i;
    else if (delimiter && start >= 0) {
      tokens.push(text.slice(start, i));
      start = -1;
    }
  }
  return tokens;
}

/** `min`-`max` digits at the start of `token`, followed by its end or a non-digit. */
function leadingDigits(token: string, min: number, max: number): number | null {
  const match = /^[0-9]+/.exec(token);
  if (match === null || match[0].length < min || match[0].length > max) return null;
  return Number(match[0]);
}

/** hms-time = time-field ":" time-field ":" time-field, each 1*2DIGIT, then a non-digit or end. */
function parseTime(token: string): [number, number, number] | null {
  const match = /^([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[^0-9]|$)/.exec(token);
  return match === null ? null : [Number(match[1]), Number(match[2]), Number(match[3])];
}

/**
 * The time `text` names, in milliseconds since the epoch, or null when it is not a cookie
 * date (a field is missing or out of range, the day does not exist, or the year is before
 * 1601).
 */
export function parseCookieDate(text: string): number | null {
  let time: [number, number, number] | null = null;
  let day: number | null = null;
  let month: number | null = null;
  let year: number | null = null;
  for (const token of dateTokens(text)) {
    if (time === null && (time = parseTime(token)) !== null) continue;
    if (day === null && (day = leadingDigits(token, 1, 2)) !== null) continue;
    if (month === null && token.length >= 3) {
      const index = MONTHS.indexOf(token.slice(0, 3).toLowerCase());
      if (index >= 0) {
        month = index;
        continue;
      }
    }
    if (year === null) year = leadingDigits(token, 2, 4);
  }
  if (time === null || day === null || month === null || year === null) return null;
  if (year >= 70 && year <= 99) year += 1900;
  else if (year >= 0 && year <= 69) year += 2000;
  const [hour, minute, second] = time;
  if (day < 1 || day > 31 || year < 1601 || hour > 23 || minute > 59 || second > 59) return null;
  const date = new Date(Date.UTC(year, month, day, hour, minute, second));
  // Date.UTC rolls 31 February over into March: such a day does not exist.
  if (date.getUTCDate() !== day) return null;
  return date.getTime();
}
