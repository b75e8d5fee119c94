// A committee draw recomputed in the browser from its logged events (GET …/committee/draws/{id}), as
// `evalroom verify-draw` does on the server side (evalroom/domain/draw.py, algorithm evalroom-draw-v1): the revealed
// seed must hash (SHA-256) to the commitment logged before the pool was read; each expert's lot is
// HMAC-SHA256(key = seed, message = expert id); slot by slot the best-ranked candidate is picked whose pick still
// lets every later slot be filled. The picks recomputed here must be the logged ones. Only WebCrypto and the
// record itself are used: a reader need not trust the coordinator's own check, nor this page's server for more
// than the record (which the transparency log pins).
//
// A record the reader may see only in part (the host before check-in opens: no pool, no picks) is checked as far
// as it goes: the commitment. `checkDraw` says which.

const ALGORITHM = "evalroom-draw-v1";
const encoder = new TextEncoder();

const toHex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
const fromHex = (text) => Uint8Array.from(text.match(/../g), (pair) => parseInt(pair, 16));

/** Whether the slots (each an array of candidate indices) can all be filled without the experts in `taken`:
 * a complete bipartite matching exists (Kuhn's augmenting paths; any maximum matching gives the same answer). */
function fillable(candidates, taken) {
  const owner = new Map(); // expert index → slot
  const augment = (slot, seen) => {
    for (const e of candidates[slot]) {
      if (taken.has(e) || seen.has(e)) continue;
      seen.add(e);
      if (!owner.has(e) || augment(owner.get(e), seen)) {
        owner.set(e, slot);
        return true;
      }
    }
    return false;
  };
  return candidates.every((_, slot) => augment(slot, new Set()));
}

/** The picks for `slots` from `pool` under `seed` (bytes): [{venue_id, specialty, expert_id}], or null when the
 * pool cannot fill every slot. */
async function draw(seed, pool, slots) {
  const key = await crypto.subtle.importKey("raw", seed, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const lots = await Promise.all(pool.map(async (e) =>
    toHex(await crypto.subtle.sign("HMAC", key, encoder.encode(e.expert_id)))));
  const ranked = pool.map((_, i) => i).sort((a, b) => (lots[a] < lots[b] ? -1 : lots[a] > lots[b] ? 1 : 0));
  const candidates = slots.map((slot) => ranked.filter((i) =>
    pool[i].region_id === slot.region_id && pool[i].qualifies.includes(slot.specialty)));
  if (!fillable(candidates, new Set())) return null;
  const taken = new Set();
  return slots.map((slot, k) => {
    const rest = candidates.slice(k + 1);
    const e = candidates[k].find((i) => !taken.has(i) && fillable(rest, new Set([...taken, i])));
    taken.add(e);
    return { venue_id: slot.venue_id, specialty: slot.specialty, expert_id: pool[e].expert_id };
  });
}

const ordered = (list, key) => list.every((x, i) => i === 0 || key(list[i - 1]) < key(x)); // strictly
const same = (a, b) => a.length === b.length && a.every((p, i) =>
  p.venue_id === b[i].venue_id && p.specialty === b[i].specialty && p.expert_id === b[i].expert_id);

/**
 * Check a draw's record (`events`: its logged events, in order). Returns
 * {commitment: true|false, recomputed: false | "drawn" | "failed", picks: number, problems: [string]}:
 * `commitment` whether the revealed seed is the committed one; `recomputed` what the recomputation found, false
 * when the record shown holds no pool (then only the commitment was checked). Problems are in English, as the
 * server's verify-draw states them; the page shows its own words around them.
 */
export async function checkDraw(events) {
  const payload = (kind) => (events.find((e) => e.kind === kind) || {}).payload;
  const committed = payload("draw.committed");
  const revealed = payload("draw.revealed");
  const performed = payload("draw.performed");
  const failed = payload("draw.failed");
  const result = { commitment: false, recomputed: false, picks: 0, problems: [] };
  if (!committed || !revealed || !(performed || failed)) {
    result.problems.push("the draw's three events (commit, outcome, reveal) are not all logged yet");
    return result;
  }
  if (typeof revealed.seed !== "string" || !/^([0-9a-f]{2}){16,}$/.test(revealed.seed)) {
    result.problems.push("the revealed seed is missing or not hex");
    return result;
  }
  const seed = fromHex(revealed.seed);
  result.commitment = toHex(await crypto.subtle.digest("SHA-256", seed)) === committed.commitment;
  if (!result.commitment) result.problems.push("the revealed seed does not match the commitment logged before the draw");
  const outcome = performed || failed;
  if (!Array.isArray(outcome.pool) || !Array.isArray(outcome.slots)) return result; // shown in part: nothing more
  if (outcome.algorithm !== ALGORITHM) {
    result.problems.push(`unknown draw algorithm ${outcome.algorithm}`);
    return result;
  }
  const { pool, slots } = outcome;
  if (!ordered(pool, (e) => e.expert_id)) result.problems.push("the pool is not in its canonical order");
  const slotAfter = (a, b) => a.venue_id > b.venue_id || (a.venue_id === b.venue_id && a.specialty > b.specialty);
  if (slots.some((s, i) => i > 0 && slotAfter(slots[i - 1], s))) result.problems.push("the slots are not in their canonical order");
  const excluded = new Set((outcome.excluded || []).map((x) => x.expert_id));
  if (pool.some((e) => excluded.has(e.expert_id))) result.problems.push("an excluded expert is in the eligible pool");
  const again = await draw(seed, pool, slots);
  if (failed) {
    result.recomputed = "failed";
    if (failed.error && failed.error.code === "pool_too_small" && again !== null) {
      result.problems.push("the draw is logged as failed, but the pool fills every slot");
    }
    return result;
  }
  result.recomputed = "drawn";
  const logged = performed.picks || [];
  result.picks = logged.length;
  if (logged.some((p) => excluded.has(p.expert_id))) result.problems.push("an excluded expert was picked");
  if (new Set(logged.map((p) => p.expert_id)).size !== logged.length) result.problems.push("an expert was picked twice");
  if (again === null) result.problems.push("the draw cannot be recomputed: the pool does not fill every slot");
  else if (!same(again, logged)) result.problems.push("the logged picks differ from the recomputed ones");
  if (Array.isArray(performed.members) && !same(performed.members, logged)) {
    result.problems.push("the members created are not the picks");
  }
  return result;
}
