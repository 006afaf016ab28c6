DROP TABLE vapi_tool_results;
