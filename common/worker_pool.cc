// A fixed pool of threads over one FIFO queue; strands serialise tasks on top of it.
#include "worker_pool.h"

#include <spdlog/spdlog.h>

#include <exception>

namespace minisync {

WorkerPool::WorkerPool(std::size_t threads)
{
    threads_.reserve(threads == 0 ? 1 : threads);
    for (std::size_t i = 0; i < (threads == 0 ? 1 : threads); ++i) {
        threads_.emplace_back([this] { run(); });
    }
}

void WorkerPool::shutdown()
{
    std::deque<Task> dropped;
    {
        const std::lock_guard lock{mutex_};
        if (stopping_) {
            return;
        }
        stopping_ = true;
        stop_requested_ = true;
        dropped.swap(queue_);
    }
    wake_.notify_all();
    for (std::thread& thread : threads_) {
        thread.join();
    }
    // Destroyed outside the lock: a task's captures may post (and be dropped) as they go.
    dropped.clear();
}

void WorkerPool::post(Task task)
{
    {
        const std::lock_guard lock{mutex_};
        if (stopping_) {
            return;
        }
        queue_.push_back(std::move(task));
    }
    wake_.notify_one();
}

void WorkerPool::run()
{
    while (true) {
        Task task;
        {
            std::unique_lock lock{mutex_};
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) {
                return;
            }
            task = std::move(queue_.front());
            queue_.pop_front();
        }
        try {
            task();
        } catch (const std::exception& e) {
            SPDLOG_CRITICAL("unhandled exception in worker task: {}", e.what());
            std::terminate();
        }
    }
}

void Strand::post(WorkerPool::Task task)
{
    enqueue(Queued{.task = std::move(task), .held = nullptr});
}

void Strand::post_held(HeldTask task)
{
    enqueue(Queued{.task = nullptr, .held = std::move(task)});
}

void Strand::enqueue(Queued item)
{
    bool schedule = false;
    {
        const std::lock_guard lock{mutex_};
        queue_.push_back(std::move(item));
        schedule = !std::exchange(scheduled_, true);
    }
    if (schedule) {
        pool_.post([self = shared_from_this()] { self->run_queued(); });
    }
}

void Strand::resume()
{
    {
        const std::lock_guard lock{mutex_};
        if (queue_.empty()) {
            scheduled_ = false; // nothing waited: no thread needs waking
            return;
        }
    }
    pool_.post([self = shared_from_this()] { self->run_queued(); });
}

void Strand::run_queued()
{
    // A bounded batch keeps one busy strand from holding a thread while others wait.
    constexpr int MaxBatch = 16;
    for (int i = 0; i < MaxBatch && !pool_.stop_requested(); ++i) {
        Queued item;
        {
            const std::lock_guard lock{mutex_};
            if (queue_.empty()) {
                scheduled_ = false;
                return;
            }
            item = std::move(queue_.front());
            queue_.pop_front();
        }
        if (item.held) {
            // The strand stays scheduled, so nothing posted meanwhile starts before resume.
            item.held([self = shared_from_this()] { self->resume(); });
            return;
        }
        item.task();
    }
    pool_.post([self = shared_from_this()] { self->run_queued(); });
}

} // namespace minisync
