// costbot's web console: polls the channel's changes, sends typed /cost commands and button
// clicks as JSON, and shows the server-rendered HTML it gets back. No build step, no library.
(function () {
  "use strict";

  // The demo's "you are" picker reloads the page as the chosen identity.
  var picker = document.getElementById("as");
  if (picker) {
    picker.addEventListener("change", function () {
      var url = new URL(window.location.href);
      url.searchParams.set("as", picker.value);
      window.location.href = url.toString();
    });
  }

  var channel = document.getElementById("channel");
  if (!channel) {
    return;
  }
  var ch = channel.dataset.channel;
  var user = channel.dataset.user;
  var demo = channel.dataset.demo === "true";
  var approver = channel.dataset.approver === "true";
  var box = document.getElementById("messages");
  var status = document.getElementById("status");
  var form = document.getElementById("command-form");
  var input = document.getElementById("command");
  // Verbs that need an approver; the bot refuses them anyway, this only says so up front.
  var RESTRICTED = ["approve", "deny", "snooze", "mute"];
  var after = 0;
  var polls = 0;

  function say(text) {
    status.textContent = text || "";
  }

  function payload(fields) {
    if (demo) {
      fields.as = user;
    }
    return JSON.stringify(fields);
  }

  function gate(node) {
    node.querySelectorAll("button[data-verb]").forEach(function (b) {
      if (!approver && RESTRICTED.indexOf(b.dataset.verb) >= 0) {
        b.disabled = true;
        b.title = "Only approvers in this channel can do this";
      }
    });
  }

  // Inserts or replaces one message, keeping posting order (message ids grow with time).
  function place(view) {
    var old = document.getElementById("msg-" + view.id);
    if (view.seq > after) {
      after = view.seq;
    }
    if (old && Number(old.dataset.seq) >= view.seq) {
      return; // Already showing this version; keep the node (and any focus or pending click).
    }
    var holder = document.createElement("div");
    holder.innerHTML = view.html;
    var node = holder.firstElementChild;
    gate(node);
    if (old) {
      old.replaceWith(node);
    } else {
      var before = null;
      for (var c = box.lastElementChild; c; c = c.previousElementSibling) {
        if (Number(c.dataset.id) < view.id) {
          break;
        }
        before = c;
      }
      box.insertBefore(node, before);
    }
  }

  function show(list) {
    var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    list.forEach(place);
    if (list.length && (atBottom || polls <= 1)) {
      box.scrollTop = box.scrollHeight;
    }
  }

  async function send(path, fields) {
    var response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: payload(fields),
    });
    if (!response.ok) {
      throw new Error(await response.text());
    }
    return response.json();
  }

  async function poll() {
    polls += 1;
    // Every 30 seconds ask for everything again, so nothing missed can stay missing.
    var from = polls % 15 === 0 ? 0 : after;
    try {
      var url = "/api/console/messages?channel=" + encodeURIComponent(ch) + "&after=" + from;
      if (demo) {
        url += "&as=" + encodeURIComponent(user);
      }
      var response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) {
        say(await response.text());
        return;
      }
      var view = await response.json();
      approver = view.approver;
      show(view.messages);
      if (status.dataset.kind === "poll") {
        say("");
      }
    } catch (e) {
      status.dataset.kind = "poll";
      say("costbot is not answering; retrying…");
    }
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) {
      return;
    }
    input.disabled = true;
    say("asking costbot…");
    try {
      show(await send("/api/console/command", { channel: ch, text: text }));
      input.value = "";
      say("");
      box.scrollTop = box.scrollHeight;
    } catch (e) {
      say(e.message);
    } finally {
      input.disabled = false;
      input.focus();
    }
  });

  box.addEventListener("click", async function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button || button.disabled) {
      return;
    }
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      return;
    }
    var article = button.closest("article[data-id]");
    button.disabled = true;
    say("working…");
    try {
      show(await send("/api/console/click", { channel: ch, message: Number(article.dataset.id), action: button.dataset.action }));
      say("");
    } catch (e) {
      button.disabled = false;
      say(e.message);
    }
  });

  poll();
  setInterval(poll, 2000);
})();
