# Generates a deterministic Apache `combined_d` access log (combined + %D,
# response time in µs, last) for the access_log benchmark.
# Usage: awk -v lines=5000000 -f gen_access_log.awk > access_log
# Three days (19–21 Oct 2025, +0900), lines spread evenly over each day;
# ~1% 5xx, some 4xx/401/304; log-normal response times (median ~80 ms)
# with a slow tail; ~260k distinct client addresses.
BEGIN {
  if (lines == "") lines = 5000000
  srand(42)
  nd = split("19/Oct/2025 20/Oct/2025 21/Oct/2025", day, " ")
  np = split("/ /api/v1/estimates /api/v1/estimates/ /static/app.js /login /health /api/v1/tasks/", path, " ")
  nu = split("Mozilla/5.0 (X11; Linux x86_64)|Mozilla/5.0 (Windows NT 10.0)|curl/8.5.0|Mozilla/5.0 (iPhone)", ua, "|")
  nm = split("GET GET GET GET GET POST POST PUT", meth, " ")
  per = int((lines + nd - 1) / nd)
  mu = log(80000); sigma = 0.9; pi2 = 6.283185307179586
  for (i = 0; i < lines; i++) {
    d = int(i / per) + 1
    t = int((i % per) * 86400 / per)
    ip = "10." int(rand() * 4) "." int(rand() * 256) "." (1 + int(rand() * 254))
    r = rand()
    if (r < 0.004) st = 500; else if (r < 0.008) st = 502; else if (r < 0.010) st = 503
    else if (r < 0.025) st = 404; else if (r < 0.030) st = 401; else if (r < 0.080) st = 304
    else st = 200
    p = path[1 + int(rand() * np)]
    if (p ~ /\/$/ && p != "/") p = p int(rand() * 100000)
    u1 = rand(); if (u1 < 1e-12) u1 = 1e-12
    z = sqrt(-2 * log(u1)) * cos(pi2 * rand())
    us = int(exp(mu + sigma * z))
    if (rand() < 0.001) us = us + int(rand() * 30000000)
    printf "%s - - [%s:%02d:%02d:%02d +0900] \"%s %s HTTP/1.1\" %d %d \"-\" \"%s\" %d\n", \
      ip, day[d], int(t / 3600), int(t % 3600 / 60), t % 60, meth[1 + int(rand() * nm)], p, st, \
      (st == 304 ? 0 : 200 + int(rand() * 20000)), ua[1 + int(rand() * nu)], us
  }
}
