-- wrk script for the benchmark: POST /payment/chain with a JSON body (tests/bench/run.sh)
wrk.method = "POST"
wrk.body   = '{"product_id":"1"}'
wrk.headers["Content-Type"] = "application/json"
