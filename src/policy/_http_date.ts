/**
 * The HTTP-date parser behind `Retry-After`: every RFC 7231 form (IMF-fixdate, RFC 850,
 * asctime), read as leniently as Python's `email.utils.parsedate_tz`, which urllib3 uses.
 *
 * @module
 */

const MONTHS = [
  "jan",
  "feb",
  "mar",
  "apr",
  "may",
  "jun",
  "jul",
  "aug",
  "sep",
  "oct",
  "nov",
  "dec",
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];
const DAY_NAMES = new Set(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]);
/** Zone names Python's `email.utils` knows, as `±hhmm`. */
const ZONES: Readonly<Record<string, number>> = {
  UT: 0,
  UTC: 0,
  GMT: 0,
  Z: 0,
  AST: -400,
  ADT: -300,
  EST: -500,
  EDT: -400,
  CST: -600,
  CDT: -500,
  MST: -700,
  MDT: -600,
  PST: -800,
  PDT: -700,
};
const DIGITS = /^[0-9]+$/;

function monthNumber(name: string): number {
  const index = MONTHS.indexOf(name.toLowerCase());
  return index < 0 ? 0 : (index % 12) + 1;
}

function stripComma(token: string): string {
  return token.endsWith(",") ? token.slice(0, -1) : token;
}

/** Splits the date into `[day, month, year, time, zone]` tokens, or `null`. */
function dateTokens(text: string): string[] | null {
  let tokens = text.split(/\s+/).filter((token) => token !== "");
  if (tokens.length === 0) return null;
  if (tokens[0].endsWith(",") || DAY_NAMES.has(tokens[0].toLowerCase())) {
    tokens.shift();
  } else {
    tokens[0] = tokens[0].slice(tokens[0].lastIndexOf(",") + 1);
  }
  if (tokens.length === 3) { // RFC 850: 06-Nov-94 08:49:37 GMT
    const parts = tokens[0].split("-");
    if (parts.length === 3) tokens = [...parts, ...tokens.slice(1)];
  }
  if (tokens.length === 4) { // no zone, or a zone glued to the time (08:49:37+0000)
    const last = tokens[3];
    let at = last.indexOf("+");
    if (at < 0) at = last.indexOf("-");
    if (at > 0) tokens.splice(3, 1, last.slice(0, at), last.slice(at));
    else tokens.push("");
  }
  return tokens.length < 5 ? null : tokens.slice(0, 5);
}

function zoneOffsetMs(zone: string): number {
  const name = zone.toUpperCase();
  let hhmm = ZONES[name];
  if (hhmm === undefined) {
    if (!/^[+-]?[0-9]+$/.test(name)) return 0; // unknown or missing zone: UTC
    hhmm = Number(name);
  }
  const sign = hhmm < 0 ? -1 : 1;
  const abs = Math.abs(hhmm);
  return sign * (Math.floor(abs / 100) * 3_600_000 + (abs % 100) * 60_000);
}

function clockParts(time: string): [string, string, string] | null {
  let parts = stripComma(time).split(":");
  if (parts.length === 1 && parts[0].includes(".")) parts = parts[0].split(".");
  if (parts.length === 2) return [parts[0], parts[1], "0"];
  if (parts.length === 3) return [parts[0], parts[1], parts[2]];
  return null;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Parses an HTTP-date in any RFC 7231 form (IMF-fixdate, RFC 850, asctime), with the
 * leniency of Python's `email.utils.parsedate_tz`; returns epoch milliseconds or `null`.
 * A date without a zone is taken as UTC.
 */
export function parseHttpDate(text: string): number | null {
  const tokens = dateTokens(text);
  if (!tokens) return null;
  let [day, month, year, time, zone] = tokens;
  if (!(day && month && year)) return null;
  if (!monthNumber(month)) [day, month] = [month, day];
  const monthNo = monthNumber(month);
  if (!monthNo) return null;
  day = stripComma(day);
  if (year.indexOf(":") > 0) [year, time] = [time, year];
  year = stripComma(year);
  if (!/^[0-9]/.test(year)) [year, zone] = [zone, year];
  const clock = time ? clockParts(time) : null;
  if (!clock || ![day, year, ...clock].every((part) => DIGITS.test(part))) return null;
  let yearNo = Number(year);
  if (yearNo < 100) yearNo += yearNo > 68 ? 1900 : 2000;
  const [dayNo, hour, minute, second] = [Number(day), ...clock.map(Number)];
  if (dayNo < 1 || dayNo > daysInMonth(yearNo, monthNo)) return null;
  if (hour > 23 || minute > 59 || second > 60) return null;
  const utc = new Date(0);
  utc.setUTCFullYear(yearNo, monthNo - 1, dayNo);
  utc.setUTCHours(hour, minute, second, 0);
  return utc.getTime() - zoneOffsetMs(zone);
}
