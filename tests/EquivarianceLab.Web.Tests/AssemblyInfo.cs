// The integration tests start real Hangfire servers whose storage is process-wide; run everything serially.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
