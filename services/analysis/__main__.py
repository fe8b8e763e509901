from services.analysis.app import create_app
from shared.runner import service_main

service_main(create_app)
