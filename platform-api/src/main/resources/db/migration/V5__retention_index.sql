-- Retention deletes succeeded Event invocations by age every minute; without this it would scan them all.
CREATE INDEX async_invocations_succeeded ON async_invocations (updated_at) WHERE status = 'Succeeded';
