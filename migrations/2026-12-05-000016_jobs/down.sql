DROP FUNCTION job_schedule_claim(text, double precision);
DROP TABLE job_schedules;
DROP FUNCTION jobs_claim(text, text[], integer, double precision);
DROP TABLE jobs;
