// aws-local-stepfunctions 3.x uses Promise.withResolvers, which Node 20 lacks (the jest setup does the same).
import '../test/setup';
