"""The assessment service (目标考核): the district's separate target assessment of street offices
(social management and public service) and of street investment service sub-centres (economic
development), with live, explainable scores computed from the other services' events."""
