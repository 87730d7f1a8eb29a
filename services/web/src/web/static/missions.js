// Missions: the calendar of missions (month or list) and a mission's plan as a resource
// timeline (operating rooms as rows, the day's hours as columns), drawn by @event-calendar
// from the JSON each page embeds. The tables beside them say the same, for every reader.
(function () {
  "use strict";

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  var calendars = {};
  function draw(elementId, options) {
    var el = document.getElementById(elementId);
    if (!el || typeof EventCalendar === "undefined") return;
    if (calendars[elementId]) {
      try { EventCalendar.destroy(calendars[elementId]); } catch (e) { /* an older build */ }
      el.innerHTML = "";
    }
    calendars[elementId] = EventCalendar.create(el, options);
  }

  function missionCalendar() {
    var given = data("calendar-data");
    if (!given) return;
    draw("mission-calendar", {
      view: "dayGridMonth",
      date: given.date || undefined,
      locale: document.documentElement.lang,
      firstDay: 1,
      headerToolbar: { start: "prev,next today", center: "title", end: "dayGridMonth,listMonth" },
      buttonText: { dayGridMonth: given.labels.month, listMonth: given.labels.list, today: given.labels.today },
      events: given.events.map(function (e) {
        return { id: e.id, start: e.start, end: e.end, allDay: true, classNames: e.classNames,
                 title: e.host + " — " + e.visiting + (e.convention ? " (" + e.convention + ")" : "") +
                        " · " + (given.statuses[e.status] || e.status),
                 extendedProps: { url: e.url } };
      }),
      eventClick: function (info) { window.location.href = info.event.extendedProps.url; }
    });
  }

  function planTimeline() {
    var given = data("timeline-data");
    if (!given) return;
    draw("plan-timeline", {
      view: "resourceTimelineDay",
      date: given.date,
      locale: document.documentElement.lang,
      firstDay: 1,
      resources: given.resources,
      events: given.events,
      slotMinTime: given.slotMinTime,
      slotMaxTime: given.slotMaxTime,
      headerToolbar: { start: "prev,next", center: "title", end: "resourceTimelineDay,resourceTimelineWeek" },
      buttonText: { resourceTimelineDay: given.labels.day, resourceTimelineWeek: given.labels.week,
                    today: given.labels.today },
      eventContent: function (info) { return info.event.title; }
    });
  }

  function drawAll() { missionCalendar(); planTimeline(); }

  document.addEventListener("DOMContentLoaded", drawAll);
  // The plan re-fetched on a live event, or the calendar's results filtered: draw again.
  document.addEventListener("htmx:afterSettle", drawAll);
  document.addEventListener("click", function (e) {
    if (e.target && e.target.matches && e.target.matches("[data-print]")) window.print();
  });
})();
