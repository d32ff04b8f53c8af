/**
 * "Chrome 131 on Windows" from a browser's User-Agent header, for the Account page's list of
 * signed-in devices. Order matters: Edge and Opera also say Chrome, Chrome also says Safari.
 */
const browsers: [RegExp, string][] = [
  [/\bEdg(?:e|A|iOS)?\/(\d+)/, "Edge"],
  [/\bOPR\/(\d+)/, "Opera"],
  [/\bFirefox\/(\d+)/, "Firefox"],
  [/\bFxiOS\/(\d+)/, "Firefox"],
  [/\bCriOS\/(\d+)/, "Chrome"],
  [/\bHeadlessChrome\/(\d+)/, "Headless Chrome"],
  [/\bChrom(?:e|ium)\/(\d+)/, "Chrome"],
  [/\bVersion\/(\d+)(?:\.\d+)*.*\bSafari\//, "Safari"],
];

const systems: [RegExp, string][] = [
  [/\b(?:iPhone|iPad|iPod)\b.*? OS (\d+)/, "iOS"],
  [/\bAndroid (\d+)/, "Android"],
  [/\bCrOS\b/, "ChromeOS"],
  [/\bWindows\b/, "Windows"],
  [/\bMac OS X\b/, "macOS"],
  [/\bLinux\b/, "Linux"],
];

export function describeUserAgent(ua: string | null): string {
  if (!ua) return "Unknown browser";
  const browser = browsers.find(([re]) => re.test(ua));
  const system = systems.find(([re]) => re.test(ua));
  const name = browser
    ? `${browser[1]} ${browser[0].exec(ua)![1]}`
    : (/^[\w.-]+(?:\/[\w.]+)?/.exec(ua)?.[0] ?? "Unknown browser");
  if (!system) return name;
  const version = system[0].exec(ua)![1];
  return `${name} on ${system[1]}${version ? ` ${version}` : ""}`;
}
