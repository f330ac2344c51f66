"""The build engine: argv for cargo lambda (local and Docker), the queue that batches requests into
one cargo run per workspace and target, verification and staging."""
