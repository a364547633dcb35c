WITH f AS (SELECT user_principal_name AS u, count(*) AS n FROM signins WHERE result_type <> 0 GROUP BY 1) SELECT u, n FROM f WHERE n > (SELECT avg(n) FROM f) ORDER BY n DESC LIMIT 10
