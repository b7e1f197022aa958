#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kube/workqueue.h"
#include "tests/fakes/fake_clock.h"

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// How long a test waits for another thread that should already be done: only
// a broken queue ever reaches it.
constexpr seconds kBrokenAfter(30);

// Spins (no sleep) until `n` threads are blocked in q.Get().
void AwaitWaiters(const kube::WorkQueue& q, int n) {
  while (q.Waiters() < n) std::this_thread::yield();
}

std::future<std::optional<std::string>> GetAsync(kube::WorkQueue& q) {
  return std::async(std::launch::async, [&q] { return q.Get(); });
}

// Declared after a GetAsync future: if a check fails, shuts the queue down so
// the future's destructor does not wait for a worker the queue never wakes.
struct ShutDownOnExit {
  kube::WorkQueue& q;
  ~ShutDownOnExit() { q.ShutDown(); }
};

TEST_CASE("workqueue: a key added many times is queued once, in FIFO order") {
  base::testing::FakeClock clock;
  kube::WorkQueue q(&clock);
  q.Add("ns/a");
  q.Add("ns/b");
  q.Add("ns/a");
  q.Add("ns/c");
  q.Add("ns/b");
  CHECK(q.Len() == 3);
  CHECK(q.Get() == "ns/a");
  CHECK(q.Get() == "ns/b");
  CHECK(q.Get() == "ns/c");
  CHECK(q.Len() == 0);
  CHECK(q.TryGet() == std::nullopt);
}

TEST_CASE("workqueue: a key re-added while processing is queued again only after Done") {
  base::testing::FakeClock clock;
  kube::WorkQueue q(&clock);
  q.Add("a");
  REQUIRE(q.Get() == "a");
  q.Add("a");
  q.Add("a");
  CHECK(q.Len() == 0);  // not handed to a second worker meanwhile
  CHECK(q.TryGet() == std::nullopt);
  q.Done("a");
  CHECK(q.Len() == 1);
  CHECK(q.Get() == "a");
  q.Done("a");
  CHECK(q.Len() == 0);  // Done without a re-add does not requeue
  q.Done("never-got");  // harmless
  CHECK(q.Len() == 0);
}

TEST_CASE("workqueue: Get blocks until a key is added") {
  base::testing::FakeClock clock;
  kube::WorkQueue q(&clock);
  auto got = GetAsync(q);
  ShutDownOnExit guard{q};
  AwaitWaiters(q, 1);
  q.Add("ns/vmi");
  REQUIRE(got.wait_for(kBrokenAfter) == std::future_status::ready);
  CHECK(got.get() == "ns/vmi");
}

TEST_CASE("workqueue: ShutDown wakes every blocked Get, after the queued keys are drained") {
  base::testing::FakeClock clock;
  kube::WorkQueue q(&clock);
  auto a = GetAsync(q);
  auto b = GetAsync(q);
  AwaitWaiters(q, 2);
  q.ShutDown();
  REQUIRE(a.wait_for(kBrokenAfter) == std::future_status::ready);
  REQUIRE(b.wait_for(kBrokenAfter) == std::future_status::ready);
  CHECK(a.get() == std::nullopt);
  CHECK(b.get() == std::nullopt);
  CHECK(q.ShuttingDown());

  kube::WorkQueue drain(&clock);
  drain.Add("x");
  drain.Add("y");
  REQUIRE(drain.Get() == "x");
  drain.Add("x");  // re-added while processing
  drain.ShutDown();
  drain.Add("z");  // ignored after ShutDown
  drain.AddRateLimited("z");
  CHECK(drain.Get() == "y");
  drain.Done("x");  // requeued: it was added before ShutDown
  CHECK(drain.Get() == "x");
  CHECK(drain.Get() == std::nullopt);
}

TEST_CASE("workqueue: AddAfter makes a key ready at exactly its time on the clock") {
  base::testing::FakeClock clock;
  kube::WorkQueue q(&clock);
  q.AddAfter("a", seconds(10));
  CHECK(q.NumWaiting() == 1);
  CHECK(q.TryGet() == std::nullopt);
  clock.Advance(seconds(10) - milliseconds(1));
  CHECK(q.TryGet() == std::nullopt);
  clock.Advance(milliseconds(1));
  CHECK(q.TryGet() == "a");
  CHECK(q.NumWaiting() == 0);

  q.AddAfter("now", seconds(0));  // no delay: queued at once
  CHECK(q.Len() == 1);
}

TEST_CASE("workqueue: AddAfter of a waiting key keeps the earlier time") {
  base::testing::FakeClock clock;
  kube::WorkQueue q(&clock);
  q.AddAfter("a", seconds(10));
  q.AddAfter("a", seconds(20));  // later: ignored
  q.AddAfter("b", seconds(20));
  q.AddAfter("b", seconds(5));  // earlier: moves
  CHECK(q.NumWaiting() == 2);
  clock.Advance(seconds(5));
  CHECK(q.TryGet() == "b");
  CHECK(q.TryGet() == std::nullopt);
  clock.Advance(seconds(5));
  CHECK(q.TryGet() == "a");
  q.Done("a");
  q.Done("b");
  clock.Advance(seconds(100));
  CHECK(q.TryGet() == std::nullopt);  // each fired once
}

TEST_CASE("workqueue: a blocked Get wakes when the fake clock reaches a delayed key") {
  base::testing::FakeClock clock;
  kube::WorkQueue q(&clock);
  auto got = GetAsync(q);
  ShutDownOnExit guard{q};
  AwaitWaiters(q, 1);
  // The worker now waits 1000 s of real time unless the clock's jump wakes it.
  q.AddAfter("ns/vmi", seconds(1000));
  clock.Advance(seconds(1000));
  REQUIRE(got.wait_for(kBrokenAfter) == std::future_status::ready);
  CHECK(got.get() == "ns/vmi");
}

TEST_CASE("workqueue: AddRateLimited backs off 5 ms doubling to 1000 s per key; Forget resets") {
  base::testing::FakeClock clock;
  kube::WorkQueue q(&clock);
  std::vector<std::chrono::nanoseconds> delays;
  for (int i = 0; i < 22; ++i) {
    delays.push_back(q.Backoff("a"));
    q.AddRateLimited("a");
  }
  CHECK(q.NumRequeues("a") == 22);
  for (int i = 0; i < 22; ++i) {
    INFO("failure " << i);
    const std::chrono::nanoseconds want =
        i < 18 ? std::chrono::nanoseconds(milliseconds(5)) * (int64_t{1} << i)
               : std::chrono::nanoseconds(seconds(1000));  // 5 ms × 2^18 = 1310 s > cap
    CHECK(delays[static_cast<size_t>(i)] == want);
  }
  CHECK(q.Backoff("b") == milliseconds(5));  // per key
  q.Forget("a");
  CHECK(q.NumRequeues("a") == 0);
  CHECK(q.Backoff("a") == milliseconds(5));
}

TEST_CASE("workqueue: a rate-limited key is ready after its backoff on the clock") {
  base::testing::FakeClock clock;
  kube::WorkQueue q(&clock);
  q.AddRateLimited("a");  // 5 ms
  CHECK(q.TryGet() == std::nullopt);
  clock.Advance(milliseconds(4));
  CHECK(q.TryGet() == std::nullopt);
  clock.Advance(milliseconds(1));
  REQUIRE(q.TryGet() == "a");
  q.Done("a");
  q.AddRateLimited("a");  // 10 ms
  clock.Advance(milliseconds(9));
  CHECK(q.TryGet() == std::nullopt);
  clock.Advance(milliseconds(1));
  CHECK(q.TryGet() == "a");
}

TEST_CASE("workqueue: ShutDown drops keys still waiting for their delay") {
  base::testing::FakeClock clock;
  kube::WorkQueue q(&clock);
  q.AddAfter("a", seconds(1));
  q.ShutDown();
  clock.Advance(seconds(2));
  CHECK(q.NumWaiting() == 0);
  CHECK(q.Get() == std::nullopt);
}

TEST_CASE("workqueue: many producers and workers never process a key twice at once") {
  base::testing::FakeClock clock;
  kube::WorkQueue q(&clock);
  std::mutex mu;
  std::set<std::string> in_flight;
  std::map<std::string, int> processed;
  bool overlap = false;

  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (std::optional<std::string> key = q.Get()) {
        {
          std::lock_guard<std::mutex> l(mu);
          if (!in_flight.insert(*key).second) overlap = true;
          ++processed[*key];
        }
        std::this_thread::yield();
        {
          std::lock_guard<std::mutex> l(mu);
          in_flight.erase(*key);
        }
        q.Done(*key);
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < 2; ++p) {
    producers.emplace_back([&q, p] {
      for (int i = 0; i < 5000; ++i) q.Add("k" + std::to_string((i + p) % 10));
    });
  }
  for (std::thread& t : producers) t.join();
  // Every key's last Add happened before ShutDown, so it is processed after it.
  q.ShutDown();
  for (std::thread& t : workers) t.join();
  CHECK_FALSE(overlap);
  CHECK(processed.size() == 10);
  CHECK(q.Len() == 0);
}

}  // namespace
