"""The cold-start benchmark's peer: the function a help desk would write in Python instead of Flare's dashboard.

Run by awslambdaric under scripts/bench-coldstart's local Runtime API. Like the dashboard's GET /api/incidents, it
answers an API Gateway event with the result of one DynamoDB Query on the table's by_start index for the
window's month. The client is made at import, during init, as Lambda's own guidance has it.
"""

import json
import os

import boto3

TABLE = os.environ["FLARE_TABLE"]
# boto3 reads the region, the credentials and AWS_ENDPOINT_URL_DYNAMODB from the environment, as Flare does.
DYNAMODB = boto3.client("dynamodb")


def handler(event, context):
    out = DYNAMODB.query(
        TableName=TABLE,
        IndexName="by_start",
        KeyConditionExpression="#p = :p AND #s BETWEEN :low AND :high",
        ExpressionAttributeNames={"#p": "gs_pk", "#s": "gs_sk"},
        ExpressionAttributeValues={
            ":p": {"S": "S#2026-11"},
            ":low": {"S": "2026-11-16"},
            ":high": {"S": "2026-11-23"},
        },
        ScanIndexForward=False,
    )
    body = {"incidents": out["Items"], "count": out["Count"]}
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
