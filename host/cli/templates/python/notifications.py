"""{{name}}: a robodev notification plugin, made by `robodev plugin new`.

Replace the log lines with calls to your chat or mail service.
"""

from robodev_plugin_sdk import NotificationChannel, log, serve
from robodev_plugin_sdk.proto import notifications_pb2


class Plugin(NotificationChannel):
    name = "{{name}}"
    version = "0.1.0"

    def Notify(self, request, context):
        log.info("notice", ticket=request.ticket.id, message=request.message)
        return notifications_pb2.NotifyResponse()

    def NotifyStart(self, request, context):
        log.info("started", ticket=request.ticket.id, engine=request.engine)
        return notifications_pb2.NotifyStartResponse()

    def NotifyComplete(self, request, context):
        outcome = "succeeded" if request.result.success else "failed"
        log.info(outcome, ticket=request.ticket.id, summary=request.result.summary)
        return notifications_pb2.NotifyCompleteResponse()


def main():
    serve(Plugin(), interface="notifications")


if __name__ == "__main__":
    main()
