// Wall-clock time in an IANA time zone, from the platform's Intl (no time-zone library): the upload
// check's local midnight (functions/upload-check) and the dashboards' time zones (grafana/lib).

/** Milliseconds to add to a UTC instant to get the wall-clock time in `timeZone` (an IANA name or "utc"). */
export function zoneOffsetMs(ms: number, timeZone: string): number {
  if (!timeZone || timeZone.toLowerCase() === "utc") return 0;
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(ms));
  const n = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return Date.UTC(n("year"), n("month") - 1, n("day"), n("hour"), n("minute"), n("second")) - Math.floor(ms / 1000) * 1000;
}
