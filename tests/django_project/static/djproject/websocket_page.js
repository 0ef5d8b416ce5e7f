"use strict";
// Talks to the project's consumers and writes everything it receives into the page,
// where tests/recipes/test_recipe_browser.py looks for it.
(function () {
  const base = (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
  const room = document.body.dataset.room;
  const status = document.getElementById("status");

  function append(listId, text) {
    const item = document.createElement("li");
    item.textContent = text;
    document.getElementById(listId).appendChild(item);
  }

  const echo = new WebSocket(base + "/ws/echo/");
  echo.onopen = function () {
    echo.send("ping from the browser");
  };
  echo.onmessage = function (event) {
    append("echo", event.data);
  };

  const member = new WebSocket(base + "/ws/room/" + room + "/");
  member.onmessage = function (event) {
    const message = JSON.parse(event.data);
    if (message.type === "hello") {
      status.textContent = "joined " + room + " as " + message.user;
    } else {
      append("room", message.text);
    }
  };
  member.onclose = function (event) {
    status.textContent = "closed " + event.code;
  };
})();
