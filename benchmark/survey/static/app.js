// The rating page: one clip at a time, in the rater's own order; a clip can be rated only after it was watched
// to the end (the server checks this too). Answers and progress live on the server, so a reload resumes.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const STORAGE_KEY = "gaitbench-survey-token";
  const video = $("video");
  const token = new URLSearchParams(location.search).get("t");
  let state = null; // {token, total, clips: [{id, url}], answers: {id: rating}, watched: [id], scale}
  let watched = new Set();
  let pos = 0;

  function setState(name) { document.body.dataset.state = name; }

  function showError(message) {
    $("error").textContent = message || "";
    $("error").hidden = !message;
  }

  async function api(method, url, body) {
    const options = { method, headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) throw new Error((data && data.error) || `${response.status} ${response.statusText}`);
    return data;
  }

  function answered() { return Object.keys(state.answers).length; }

  function nextUnanswered(from) {
    for (let i = from; i < state.total; i++) if (!(state.clips[i].id in state.answers)) return i;
    for (let i = 0; i < from; i++) if (!(state.clips[i].id in state.answers)) return i;
    return state.total;
  }

  function makeButtons() {
    const box = $("buttons");
    box.textContent = "";
    for (const { value, label } of state.scale) {
      const b = document.createElement("button");
      b.type = "button";
      b.id = `rate-${value}`;
      b.dataset.value = String(value);
      b.textContent = `${value} ${label}`;
      b.addEventListener("click", () => rate(value));
      box.appendChild(b);
    }
  }

  function render() {
    showError("");
    $("done").hidden = pos < state.total;
    $("survey").hidden = pos >= state.total;
    if (pos >= state.total) { setState("done"); return; }
    const clip = state.clips[pos];
    $("progress").textContent = `Video ${pos + 1} of ${state.total} (${answered()} rated)`;
    $("progress").dataset.position = String(pos);
    if (video.dataset.clip !== clip.id) { // a re-render of the same clip keeps the player as it is
      video.dataset.clip = clip.id;
      video.src = clip.url;
      video.load();
    }
    const seen = watched.has(clip.id);
    const answer = state.answers[clip.id];
    $("scale").disabled = !seen;
    for (const b of $("buttons").children) b.setAttribute("aria-pressed", String(Number(b.dataset.value) === answer));
    $("play").disabled = false;
    $("play").textContent = seen ? "Play again" : "Play";
    $("back").disabled = pos === 0;
    $("status").textContent = !seen ? "Press Play and watch the whole video."
      : answer ? `You rated this video ${answer}. Choose another rating to change it.`
        : "How natural does the walk look?";
    setState(seen ? "rate" : "ready");
  }

  async function play() {
    const clip = state.clips[pos];
    $("play").disabled = true;
    showError("");
    try {
      await api("POST", "/api/plays", { token, clip: clip.id, event: "start" });
      video.currentTime = 0;
      video.playbackRate = 1;
      setState("playing");
      $("status").textContent = "Playing...";
      await video.play();
    } catch (e) {
      showError(`Could not play the video: ${e.message}`);
      $("play").disabled = false;
      setState("ready");
    }
  }

  async function ended() {
    const clip = state.clips[pos];
    try {
      await api("POST", "/api/plays", { token, clip: clip.id, event: "end" });
      watched.add(clip.id);
      render();
    } catch (e) {
      render();
      showError(e.message);
    }
  }

  async function rate(value) {
    const clip = state.clips[pos];
    $("scale").disabled = true;
    try {
      await api("POST", "/api/ratings", { token, clip: clip.id, rating: value });
      state.answers[clip.id] = value;
      pos = nextUnanswered(pos + 1);
      render();
    } catch (e) {
      render();
      showError(e.message);
    }
  }

  async function start() {
    if (!token) {
      setState("welcome");
      $("welcome").hidden = false;
      const saved = localStorage.getItem(STORAGE_KEY);
      if (saved) {
        $("resume").href = `/?t=${encodeURIComponent(saved)}`;
        $("resume-box").hidden = false;
      }
      return;
    }
    try {
      state = await api("GET", `/api/raters/${encodeURIComponent(token)}`);
    } catch (e) {
      setState("error");
      showError(`${e.message}`);
      return;
    }
    localStorage.setItem(STORAGE_KEY, token);
    $("link").href = location.href;
    $("link").textContent = location.href;
    $("link-box").hidden = false;
    watched = new Set(state.watched);
    makeButtons();
    pos = nextUnanswered(0);
    render();
  }

  $("play").addEventListener("click", play);
  video.addEventListener("ended", ended);
  video.addEventListener("ratechange", () => { if (video.playbackRate !== 1) video.playbackRate = 1; });
  video.addEventListener("contextmenu", (e) => e.preventDefault());
  $("back").addEventListener("click", () => { if (pos > 0) { pos -= 1; render(); } });
  $("review").addEventListener("click", () => { pos = state.total - 1; render(); });
  start();
})();
