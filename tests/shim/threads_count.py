# Two Python threads fill dicts of Python objects under a lock and check them;
# CPython keeps its objects in arenas it mmaps itself (pymalloc), so this is
# memory outside the malloc heap. Prints "threads_count: progress n=N" every
# 100 ms and "threads_count: total=T ok" once every thread has done ROUNDS
# rounds (the round counters are Python objects too).
import os
import sys
import threading
import time

ROUNDS = int(sys.argv[1])
lock = threading.Lock()
rounds = [0, 0]
tables = [{}, {}]


def work(tid):
    while True:
        with lock:
            if rounds[tid] >= ROUNDS:
                return
            r = rounds[tid]
            t = tables[tid]
            for (j, v) in t.items():
                if v != ("%d:%d:%d" % (tid, r - 1, j)) * 4:
                    print("threads_count: thread %d round %d: bad entry %d: %r" % (tid, r, j, v), flush=True)
                    os._exit(3)
            tables[tid] = {j: ("%d:%d:%d" % (tid, r, j)) * 4 for j in range(2000)}
            rounds[tid] = r + 1


threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
for t in threads:
    t.start()
while any(t.is_alive() for t in threads):
    print("threads_count: progress n=%d" % sum(rounds), flush=True)
    time.sleep(0.1)
print("threads_count: total=%d ok" % sum(rounds), flush=True)
