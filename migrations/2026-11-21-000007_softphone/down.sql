DROP TABLE softphone_calls;
