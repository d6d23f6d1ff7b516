// Drives rasad's desk in headless Chromium (Debian's /usr/bin/chromium, through playwright-core)
// the way an analyst would: signs in with the token, reads the alerts page, opens a story,
// retries a dead delivery, tries a keyword in the topics page's "try it" box and saves it as a
// topic (and a spare one, which it deletes), and checks that no page scrolls sideways on a
// phone. Any failed expectation, page error or Content-Security-Policy violation exits 1 with
// its reason; success prints one JSON line saying what was seen. With RASAD_DESK_MODE=screenshots
// it signs in and writes every page at 1280 and 390 px wide instead.
//
// Settings (environment):
//   RASAD_DESK_URL        the desk, e.g. http://127.0.0.1:9797
//   RASAD_DESK_TOKEN      the [web] token
//   RASAD_DESK_KEYWORD    the keyword typed in the try-it box (a line each, for screenshots)
//   RASAD_DESK_MODE       walk (the default) or screenshots
//   CHROMIUM              the browser (default /usr/bin/chromium)
// walk:
//   RASAD_DESK_TITLE      an alert title the alerts page must show, with a <mark>
//   RASAD_DESK_EXPECT     a story title the try-it box must find for the keyword
//   RASAD_DESK_TOPIC      the id the topic is saved under
//   RASAD_DESK_RETRY      "1": the outbox must show a dead delivery; its retry button is pressed
// screenshots:
//   RASAD_SCREENSHOTS     the folder the PNG files are written to (desk-PAGE-desktop|phone.png)
"use strict";

const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

/** The longest wait for one expectation (a page, an element, a backtest's answer). */
const STEP_TIMEOUT_MS = 15000;
/** The longest the whole run may take; the browser is closed and the run fails after it. */
const RUN_TIMEOUT_MS = 120000;
const WIDTHS = { desktop: 1280, phone: 390 };

function setting(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value === "") {
    if (fallback !== undefined) {
      return fallback;
    }
    throw new Error(`${name} is not set`);
  }
  return value;
}

function expect(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

/**
 * Problems the pages reported: script errors, and Content-Security-Policy violations (an inline
 * script or style, something from another site). Answers with an error status are not counted
 * here: the run asks for some on purpose (a wrong token, a refused topic) and checks them itself.
 */
function watchProblems(page, problems) {
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    const text = message.text();
    if (message.type() === "error" && /Content Security Policy|Refused to/i.test(text)) {
      problems.push(`console error: ${text}`);
    }
  });
}

async function open(page, base, where) {
  const response = await page.goto(base + where, { waitUntil: "load" });
  expect(response && response.ok(), `GET ${where}: ${response ? response.status() : "no answer"}`);
  return response;
}

/** The desk refuses a page without a session: it sends the browser to the login form. */
async function signIn(page, base, token) {
  await open(page, base, "/");
  expect(new URL(page.url()).pathname === "/login", `without a session / went to ${page.url()}`);
  await page.fill('input[name="token"]', "wrong-token-wrong-token");
  await Promise.all([page.waitForLoadState("load"), page.click('form[action^="/login"] button[type="submit"]')]);
  expect(new URL(page.url()).pathname === "/login", "a wrong token was let in");
  await page.fill('input[name="token"]', token);
  await Promise.all([
    page.waitForURL((url) => url.pathname === "/", { timeout: STEP_TIMEOUT_MS }),
    page.click('form[action^="/login"] button[type="submit"]'),
  ]);
  const csrf = await page.getAttribute('meta[name="csrf-token"]', "content");
  expect(csrf && csrf.length >= 16, "a signed-in page has no CSRF token in its meta tag");
}

async function readAlerts(page, title) {
  const card = page.locator(".alert", { hasText: title }).first();
  await card.waitFor({ timeout: STEP_TIMEOUT_MS });
  const marked = await card.locator("mark").allTextContents();
  expect(marked.length > 0, `the alert "${title}" has no highlighted word`);
  const dir = await page.getAttribute("html", "dir");
  expect(dir === "rtl", `<html dir> is ${dir}`);
  const story = await card.locator("h2 a").getAttribute("href");
  return { marked, story };
}

async function readStory(page, base, storyPath, title) {
  await open(page, base, storyPath);
  const heading = await page.textContent("#story h1");
  expect(heading.includes(title), `the story page shows "${heading}"`);
  return page.locator(".cluster > li").count();
}

async function retryDead(page, base) {
  const button = page.locator(".delivery-entry.state-dead button.retry").first();
  for (let look = 0; ; look++) {
    await open(page, base, "/outbox");
    if ((await button.count()) > 0) {
      break;
    }
    expect(look < 30, "the outbox shows no dead delivery to retry");
    await page.waitForTimeout(500);
  }
  await Promise.all([page.waitForLoadState("load"), button.click()]);
  await page.locator(".notice").waitFor({ timeout: STEP_TIMEOUT_MS });
  return page.textContent(".notice");
}

/** Types `keyword` in the try-it box and waits for the story `expected` among its hits. */
async function tryKeyword(page, base, keyword, expected) {
  await open(page, base, "/topics");
  await page.locator("#try-any").pressSequentially(keyword, { delay: 30 });
  const hit = page.locator("#try-hits .alert", { hasText: expected }).first();
  await hit.waitFor({ timeout: STEP_TIMEOUT_MS });
  const marked = await hit.locator("mark").allTextContents();
  expect(marked.length > 0, `the try-it hit "${expected}" has no highlighted word`);
  const counts = {};
  for (const item of await page.locator("#try-counts li").all()) {
    counts[await item.getAttribute("data-keyword")] = Number(await item.locator(".stories").textContent());
  }
  return { marked, counts };
}

/** Saves the draft: first without an id's keywords (refused with the check's message), then whole. */
async function saveTopic(page, id, keyword) {
  await page.fill("#try-id", id);
  await page.fill("#try-name", `موضوع ${keyword}`);
  await page.fill("#try-any", "");
  await page.click("#try-save");
  const refusal = page.locator("#save-messages li").first();
  await refusal.waitFor({ timeout: STEP_TIMEOUT_MS });
  const refused = await refusal.textContent();
  await page.fill("#try-any", keyword);
  await page.click("#try-save");
  await page.locator("#save-messages .saved").waitFor({ timeout: STEP_TIMEOUT_MS });
  return refused;
}

/** Saves the draft again as `id`, then deletes that topic with its button (pressed twice). */
async function saveAndDelete(page, base, id) {
  await page.fill("#try-id", id);
  await page.click("#try-save");
  await page.locator("#save-messages .saved").waitFor({ timeout: STEP_TIMEOUT_MS });
  await open(page, base, "/topics");
  const button = page.locator(`[data-topic-id="${id}"] button[data-delete-topic]`);
  await button.click();
  await button.click();
  await page.locator(`[data-topic-id="${id}"]`).waitFor({ state: "detached" });
  await open(page, base, "/topics");
  expect((await page.locator(`[data-topic-id="${id}"]`).count()) === 0, `the topic ${id} is still listed`);
  return id;
}

/** The narrowest phone the pages are made for: none may scroll sideways at this width. */
const NARROW_PHONE = 375;

/** Each page at a phone's width: the widest one's overflow in pixels, which must be 0. */
async function fitPhoneWidth(page, base, paths) {
  await page.setViewportSize({ width: NARROW_PHONE, height: 812 });
  const overflow = {};
  for (const where of paths) {
    await open(page, base, where);
    overflow[where] = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth
    );
    expect(overflow[where] <= 0, `${where} scrolls sideways by ${overflow[where]} px at ${NARROW_PHONE} px`);
  }
  await page.setViewportSize({ width: WIDTHS.desktop, height: 900 });
  return overflow;
}

async function screenshots(page, base, folder, pages) {
  fs.mkdirSync(folder, { recursive: true });
  const written = [];
  for (const [width_name, width] of Object.entries(WIDTHS)) {
    await page.setViewportSize({ width, height: width === WIDTHS.phone ? 844 : 900 });
    for (const [name, where, prepare] of pages) {
      await open(page, base, where);
      if (prepare) {
        await prepare();
      }
      const file = path.join(folder, `desk-${name}-${width_name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      written.push(file);
    }
  }
  return written;
}

/** The analyst's path through the desk, each step checked; what it saw. */
async function walkThrough(page, base) {
  const title = setting("RASAD_DESK_TITLE");
  const keyword = setting("RASAD_DESK_KEYWORD");
  const expected = setting("RASAD_DESK_EXPECT");
  const topicId = setting("RASAD_DESK_TOPIC");
  const seen = {};
  const alerts = await readAlerts(page, title);
  seen.alert_marks = alerts.marked;
  seen.cluster = await readStory(page, base, alerts.story, title);
  await open(page, base, "/feeds");
  seen.feeds = await page.locator("#feeds > li").count();
  if (process.env.RASAD_DESK_RETRY === "1") {
    seen.retried = await retryDead(page, base);
  }
  const tried = await tryKeyword(page, base, keyword, expected);
  seen.try_marks = tried.marked;
  seen.try_counts = tried.counts;
  seen.refused = await saveTopic(page, topicId, keyword);
  seen.deleted = await saveAndDelete(page, base, `${topicId}-spare`);
  await page.locator(`[data-topic-id="${topicId}"]`).waitFor();
  seen.saved = topicId;
  seen.phone_overflow = await fitPhoneWidth(page, base, ["/", alerts.story, "/feeds", "/outbox", "/topics"]);
  return seen;
}

/** Every page at both widths, the topics page with RASAD_DESK_KEYWORD tried. */
async function pictures(page, base) {
  const keyword = setting("RASAD_DESK_KEYWORD");
  await open(page, base, "/");
  // A story that several outlets carried shows its cluster best.
  const reported = page.locator(".alert:has(.also) h2 a");
  const link = (await reported.count()) > 0 ? reported.first() : page.locator(".alert h2 a").first();
  const story = await link.getAttribute("href");
  const showTry = async () => {
    await page.locator("#try-any").pressSequentially(keyword, { delay: 20 });
    await page.locator("#try-hits .alert").first().waitFor();
  };
  return screenshots(page, base, setting("RASAD_SCREENSHOTS"), [
    ["alerts", "/"],
    ["story", story],
    ["feeds", "/feeds"],
    ["outbox", "/outbox"],
    ["topics", "/topics", showTry],
  ]);
}

/** RASAD_DESK_MODE: `walk` (the default) checks the analyst's path; `screenshots` takes them. */
async function run() {
  const base = setting("RASAD_DESK_URL").replace(/\/$/, "");
  const token = setting("RASAD_DESK_TOKEN");
  const mode = setting("RASAD_DESK_MODE", "walk");
  expect(mode === "walk" || mode === "screenshots", `RASAD_DESK_MODE=${mode}: walk or screenshots`);
  const browser = await chromium.launch({
    executablePath: setting("CHROMIUM", "/usr/bin/chromium"),
    headless: true,
    args: ["--no-sandbox"],
  });
  const problems = [];
  let seen;
  try {
    const context = await browser.newContext({ viewport: { width: WIDTHS.desktop, height: 900 } });
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    const page = await context.newPage();
    watchProblems(page, problems);
    await signIn(page, base, token);
    seen = mode === "walk" ? await walkThrough(page, base) : { screenshots: await pictures(page, base) };
    expect(problems.length === 0, problems.join("; "));
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(seen));
}

const deadline = setTimeout(() => {
  console.error(`the run took longer than ${RUN_TIMEOUT_MS} ms`);
  process.exit(1);
}, RUN_TIMEOUT_MS);

run().then(
  () => clearTimeout(deadline),
  (error) => {
    console.error(error && error.stack ? error.stack : String(error));
    process.exit(1);
  }
);
