// One server process and one Chromium at a time: the machine has two cores, and the tests start and kill servers.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
