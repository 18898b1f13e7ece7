// Tell the server this browser's time zone (an IANA name such as "America/Los_Angeles") in the
// `tz` cookie; memorycrm/lib/timezones.py shows and reads times in it from the next page on.
(function () {
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  // IANA names use only these characters: written as they are (a cookie value needs no escaping).
  if (!zone || !/^[A-Za-z0-9_+\-\/]+$/.test(zone)) return;
  var current = (document.cookie.match(/(?:^|; )tz=([^;]*)/) || [])[1];
  if (current === zone) return;
  document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
})();
