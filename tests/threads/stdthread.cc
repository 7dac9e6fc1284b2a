// C++ threads: std::thread, std::mutex, std::condition_variable, std::atomic, std::async,
// thread_local; output deterministic natively.
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <numeric>
#include <queue>
#include <thread>
#include <vector>

thread_local int local_calls = 0;

static long collatz_steps(long n) {
    long steps = 0;
    while (n != 1) {
        n = n % 2 ? 3 * n + 1 : n / 2;
        steps++;
        local_calls++;
    }
    return steps;
}

int main() {
    std::mutex lock;
    std::condition_variable ready;
    std::queue<long> work;
    bool done = false;
    std::atomic<long> total{0};
    std::vector<std::thread> pool;
    for (int i = 0; i < 4; i++)
        pool.emplace_back([&] {
            for (;;) {
                std::unique_lock<std::mutex> held(lock);
                ready.wait(held, [&] { return done || !work.empty(); });
                if (work.empty()) return;
                long n = work.front();
                work.pop();
                held.unlock();
                total += collatz_steps(n);
            }
        });
    for (long n = 1; n <= 3000; n++) {
        std::lock_guard<std::mutex> held(lock);
        work.push(n);
        ready.notify_one();
    }
    {
        std::lock_guard<std::mutex> held(lock);
        done = true;
    }
    ready.notify_all();
    for (auto &t : pool) t.join();
    auto answer = std::async(std::launch::async, [] { return collatz_steps(27); });
    std::printf("std::thread: total steps %ld, async %ld, main's thread_local %d\n", total.load(),
                answer.get(), local_calls);
    return 0;
}
